"""Group messaging: one module per pattern over one engine.

`engine` holds the lease and offers the verbs patterns compose (take a turn, ask, work,
publish, update the group, start background work); `registry` maps each manager type to
its pattern; each pattern module owns its rules, tools and prompts.
"""
