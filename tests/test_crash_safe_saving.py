"""Saves survive being killed at any point: the folder holds the old save or the new one, never a mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


KILLS = 52


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill test forks savers; this platform cannot fork")
def test_killing_saves_at_random_points_leaves_the_old_or_the_new_save(tmp_path: Path) -> None:
    script = Path(__file__).with_name("kill_while_saving.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, str(script), str(KILLS), "0", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"kill test: {counts}")
    assert counts["kills"] == KILLS
    assert counts["mixed"] == 0, counts
    assert counts["errors"] == [], counts
    assert counts["old"] + counts["new"] == KILLS
    # the kills must land inside saves, on both sides of the swap, for the test to mean anything
    assert counts["killed_mid_save"] >= KILLS // 4 and counts["old"] > 0 and counts["new"] > 0, counts
    assert counts["leftover_staging"] == [], "a later save removes the staging folders of killed ones"
