"""Root conftest. The glm-harness plugin itself comes from the `pytest11` entry point of the
installed package (pyproject.toml), so suites run the same way here and in other projects;
pytester is loaded for the proofs in tests/ that run the suites against a broken twin."""

pytest_plugins = ["pytester"]
