"""The in-memory adapters under the names the tests use."""

from creative.adapters import memory

FakeCreativeRepository = memory.InMemoryCreativeRepository
FakeImpressionLog = memory.InMemoryImpressionLog
FakeMaterialRepository = memory.InMemoryMaterialRepository
FakeModelRegistry = memory.InMemoryModelRegistry
FakeObjectStore = memory.InMemoryObjectStore
