"""Every conformance check, over every selected architecture and method (see conformance.checks)."""

from conformance.checks import ForwardChecks, LifecycleChecks, MergeChecks, PersistenceChecks, TrainingChecks
from conformance.checks.adapter_model import AdapterModelChecks
from conformance.checks.averaging import WeightAveragingChecks
from conformance.checks.checkpointing import GradientCheckpointingChecks
from conformance.checks.class_conversion import ClassConversionChecks, HeadMapChecks
from conformance.checks.compacter import CompacterChecks
from conformance.checks.composition import (
    AverageChecks,
    BatchSplitChecks,
    FusionChecks,
    ParallelChecks,
    SplitChecks,
    StackChecks,
    UnsupportedBlockChecks,
)
from conformance.checks.definition import DefinitionChecks
from conformance.checks.ecosystem import AccelerateChecks, Bfloat16Checks, CompileChecks, TrainerChecks
from conformance.checks.full_model import FullModelChecks
from conformance.checks.generation import GenerationChecks
from conformance.checks.heads import HeadChecks, HeadTypeChecks
from conformance.checks.invertible import InvertibleChecks
from conformance.checks.placement import PlacementChecks
from conformance.checks.prefix_tuning import PrefixTuningChecks
from conformance.checks.prompt_tuning import PromptTuningChecks
from conformance.checks.reft import ReftChecks
from conformance.checks.seeding import SeedChecks
from conformance.checks.unions import UnionChecks


class TestLifecycle(LifecycleChecks):
    pass


class TestForward(ForwardChecks):
    pass


class TestDefinition(DefinitionChecks):
    pass


class TestPlacement(PlacementChecks):
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


class TestWeightAveraging(WeightAveragingChecks):
    pass


class TestFullModel(FullModelChecks):
    pass


class TestGeneration(GenerationChecks):
    pass


class TestGradientCheckpointing(GradientCheckpointingChecks):
    pass


class TestSeeds(SeedChecks):
    pass


class TestHeads(HeadChecks):
    pass


class TestHeadTypes(HeadTypeChecks):
    pass


class TestClassConversion(ClassConversionChecks):
    pass


class TestHeadMap(HeadMapChecks):
    pass


class TestPrefixTuning(PrefixTuningChecks):
    pass


class TestCompacter(CompacterChecks):
    pass


class TestInvertible(InvertibleChecks):
    pass


class TestPromptTuning(PromptTuningChecks):
    pass


class TestReft(ReftChecks):
    pass


class TestUnions(UnionChecks):
    pass


class TestAdapterModel(AdapterModelChecks):
    pass


class TestAccelerate(AccelerateChecks):
    pass


class TestCompile(CompileChecks):
    pass


class TestBfloat16(Bfloat16Checks):
    pass


class TestTrainer(TrainerChecks):
    pass
