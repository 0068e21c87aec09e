"""``deepbelief train --kind documents --data FILE.cor``: a file of one document per line
(the Lee corpus's format) trains; an existing file of another kind is named as such, not
"not found"."""

import numpy as np

from deepbelief.cli.main import main


def test_a_file_of_one_document_per_line_trains(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, size=20)) for _ in range(40)]
    corpus = tmp_path / "news.cor"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "rsm.safetensors"
    assert main(["train", "--kind", "documents", "--data", str(corpus), "--layers", "4",
                 "--epochs", "1", "-o", str(out), "-q"]) == 0
    assert out.is_file()


def test_an_existing_file_of_another_kind_is_not_called_missing(tmp_path, capsys):
    other = tmp_path / "table.csv"
    other.write_text("1,2\n3,4\n", encoding="utf-8")
    assert main(["train", "--kind", "documents", "--data", str(other), "--layers", "4",
                 "-o", str(tmp_path / "m.safetensors")]) != 0
    err = capsys.readouterr().err
    assert "not found" not in err and "one document per line" in err
