"""Config review: what a policy, or a change to it, does to every server, in words a reviewer can check.

``stance`` says who may relay, ``policy_diff`` explains a policy change and flags risky ones,
``postconf`` and ``config_diff`` compare rendered files with committed or live ones, and ``report``
lays all of it out as text, Markdown or JSON.
"""
