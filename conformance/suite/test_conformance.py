"""Every conformance check, over every selected architecture and method (see conformance.checks)."""

from conformance.checks import ForwardChecks, LifecycleChecks, MergeChecks, PersistenceChecks, TrainingChecks
from conformance.checks.composition import (
    AverageChecks,
    BatchSplitChecks,
    FusionChecks,
    ParallelChecks,
    SplitChecks,
    StackChecks,
    UnsupportedBlockChecks,
)


class TestLifecycle(LifecycleChecks):
    pass


class TestForward(ForwardChecks):
    pass


class TestPersistence(PersistenceChecks):
    pass


class TestTraining(TrainingChecks):
    pass


class TestMerge(MergeChecks):
    pass


class TestStack(StackChecks):
    pass


class TestParallel(ParallelChecks):
    pass


class TestBatchSplit(BatchSplitChecks):
    pass


class TestSplit(SplitChecks):
    pass


class TestAverage(AverageChecks):
    pass


class TestFusion(FusionChecks):
    pass


class TestUnsupportedBlocks(UnsupportedBlockChecks):
    pass
