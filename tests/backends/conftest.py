import itertools

import pytest


@pytest.fixture
def medqa_en(shared_data, tmp_path):
    """Write the first `n` MedQA records (English, imported by medinject.ingest) to a JSONL file."""
    from medinject.ingest import ingest
    from medinject.io import write_records
    from medinject.records import Origin

    def make(n: int):
        path = tmp_path / f"medqa_{n}.jsonl"
        items = ingest(shared_data / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.NATIVE)
        write_records(path, itertools.islice(items, n))
        return path

    return make
