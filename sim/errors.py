"""User-facing failures, each turned into one line and exit code 2 by the CLIs."""


class ScenarioError(ValueError):
    """A Scenario field is outside its documented range; the message names the flag."""


class ParseError(ValueError):
    """A value or file that cannot be read, the message saying where (a parameter, a line)."""
