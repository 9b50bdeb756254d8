"""The Hillenbrand vowdata.dat loader on files written here (the real file is downloaded in
normal use), malformed ones included: one clear line each."""
import numpy as np
import pytest

from experiments.data import DataError
from experiments.vowels import (VOWELS, VOWEL_URL, check_published_structure, load_vowels,
                                parse_vowdata)

NOTES = """Hillenbrand et al. (1995) vowel data -- notes line
 columns: file dur f0 F1 F2 F3 F4 F1-20 F2-20 F3-20 F1-50 F2-50 F3-50 F1-80 F2-80 F3-80

"""


def _row(name, f1=500, f2=1500, f3=2500, zero_at=None):
    cols = [name, 250, 120, f1, f2, f3, 3500, f1, f2, f3, f1 + 10, f2 + 20, f3 + 30, f1, f2, f3]
    if zero_at is not None:
        cols[zero_at] = 0
    return " ".join(str(c) for c in cols)


def _write(tmp_path, rows, notes=NOTES):
    (tmp_path / "vowdata.dat").write_text(notes + "\n".join(rows) + "\n")
    return tmp_path


def _good_rows(per_vowel=10):
    rows = []
    for t in range(per_vowel):
        for i, v in enumerate(VOWELS + ("eh", "oo")):           # two vowels FICONN does not use
            rows.append(_row(f"{'mwbg'[t % 4]}{t:02d}{v}", 300 + 60 * i, 900 + 250 * i, 2300 + 50 * i))
    return rows


def test_loader_selects_six_vowels_six_features_scaled_by_max(tmp_path):
    rows = _good_rows()
    rows.append(_row("m99iy", zero_at=11))                       # F2 at 50 % unmeasurable: dropped
    rows.append(_row("m98iy", zero_at=6))                        # F4 is not a used feature: kept
    ds = load_vowels(_write(tmp_path, rows), seed=0)
    n = 6 * 10 + 1
    assert len(ds.y_train) + len(ds.y_test) == n
    assert ds.x_train.shape[1] == 6 and ds.n_classes == 6
    assert np.allclose(ds.x_train.max(1).values.numpy(), 1.0)
    assert len(ds.y_test) == round(n * 294 / 834)
    assert set(ds.y_test.tolist()) == set(range(6))             # stratified
    # features are F1-F3 steady state then F1-F3 at 50 %: the 50 % copy is +10/+20/+30 Hz
    names, values = parse_vowdata((tmp_path / "vowdata.dat").read_text())
    assert names[0] == "m00ae" and values.shape == (len(rows), 15)


@pytest.mark.parametrize("bad,match", [
    (["m01ae 250 120 500 1500"], "5 columns; allowed: 16"),
    ([_row("m01ae").replace("1500", "15x0", 1)], "non-numeric"),
    ([_row("m01ae"), "garbage line here"], "not a token name"),
    ([_row("m01ae").replace("250", "-250", 1)], "negative or non-finite"),
])
def test_malformed_rows_give_one_clear_line(tmp_path, bad, match):
    with pytest.raises(DataError, match=match) as e:
        load_vowels(_write(tmp_path, bad), seed=0)
    assert "\n" not in str(e.value) and "line" in str(e.value)


def test_missing_file_empty_file_and_missing_vowel(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_vowels(tmp_path, seed=0)
    with pytest.raises(DataError, match="no token rows"):
        load_vowels(_write(tmp_path, [], notes="only notes\n"), seed=0)
    rows = [r for r in _good_rows() if "uw" not in r.split()[0]]
    with pytest.raises(DataError, match="uw"):
        load_vowels(_write(tmp_path, rows), seed=0)


def test_structural_check_of_a_download():
    names, _ = parse_vowdata(NOTES + "\n".join(_good_rows()))
    with pytest.raises(DataError, match="1668 unique tokens of 12 vowels"):
        check_published_structure(names, VOWEL_URL)
    full = [f"{'mwbg'[i % 4]}{i // 4:02d}{v}" for i in range(139)
            for v in VOWELS + ("eh", "oo", "ah", "ei", "oa", "uh")]
    check_published_structure(full, VOWEL_URL)                   # 139 × 12 = 1668: accepted
    assert VOWEL_URL.startswith("https://homepages.wmich.edu/~hillenbr/")
