"""Every conformance check, over every selected architecture and method (see conformance.checks)."""

from conformance.checks import ForwardChecks, LifecycleChecks, MergeChecks, PersistenceChecks, TrainingChecks


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
