"""Where the tests' data lives, so a test file can move without its paths breaking."""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
SCENARIOS_DIR = TESTS_DIR / "scenarios"
SHIPPED_SCENARIOS_DIR = REPO_ROOT / "callrt" / "scenario" / "data"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
