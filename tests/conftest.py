"""Shared test configuration: every test must leave no understudy server running."""
