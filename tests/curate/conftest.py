"""Records ingested from the shared public data, shared by the curation and mixing tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fm(shared_data):
    """FrenchMedMCQA train / dev / test as medinject records."""
    from medinject.ingest import ingest
    from medinject.records import Origin

    return {split: list(ingest(shared_data / "frenchmedmcqa" / f"{split}.json", "frenchmedmcqa",
                               origin=Origin.NATIVE, split=split)) for split in ("train", "dev", "test")}


@pytest.fixture(scope="session")
def e3c_passages(shared_data):
    from medinject.ingest import ingest

    return list(ingest(shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl", "e3c"))
