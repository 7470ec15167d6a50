"""Commands (imperative, frozen) and their handlers: validate → events → group commit."""
