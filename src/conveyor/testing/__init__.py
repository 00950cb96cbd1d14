"""Contract kits for plugin authors (and Conveyor's own tests).

Each `check_*` function exercises an implementation against the behaviour Conveyor relies on and
raises `AssertionError` with a readable message on the first violation:

    from conveyor.testing import check_materializer
    check_materializer(MyMaterializer(), MyType(...))
"""

from conveyor.testing.contracts import check_executor, check_store
from conveyor.testing.materializer import check_materializer

__all__ = ["check_executor", "check_materializer", "check_store"]
