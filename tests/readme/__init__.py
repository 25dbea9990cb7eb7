"""The README's code blocks as tests: `blocks` reads them, `newcomer` runs them as a newcomer would."""
