"""Root conftest: the plugin itself comes from the `pytest11` entry point of the installed
package (pyproject.toml), so suites and tests run the same way here and in other projects."""
