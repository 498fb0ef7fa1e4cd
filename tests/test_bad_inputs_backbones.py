"""Bad weights files found by probing."""

from __future__ import annotations

import pytest

from skmedtl.backbones._weights import read_state_dict


def test_a_file_that_is_not_a_state_dict_does_not_advise_unsafe_loading(tmp_path):
    """Was torch's text, which advises re-running with weights_only=False."""
    path = tmp_path / "labels.csv"
    path.write_text("path,label\na.png,0\n")
    match = r"labels\.csv: it is not a PyTorch state dict"
    with pytest.raises(ValueError, match=match) as e:
        read_state_dict(path)
    assert "weights_only` set to `False`" not in str(e.value)
    assert "state_dict()" in str(e.value)
