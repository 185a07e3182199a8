import pyarrow as pa


def test_arrow_roundtrip_on_each_backend(load):  # type: ignore[no-untyped-def]
    t = load(pa.table({"a": [1, 2, 3]}))
    assert t.a.sum().execute() == 6
