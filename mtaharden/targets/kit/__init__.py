"""The shared targets kit: what every target needs and no target should solve its own way.

Which kit module for which problem (a newcomer's guide to writing a target):

- Saying how each policy element is carried out: :mod:`.coverage`. Make one ``Recorder`` per plan and
  pass it to every lowering step; a step records ``enforced``/``approximated``/``unsupported`` where it
  decides, never in a later "describe coverage" pass. ``Plan.coverage`` is ``recorder.items()``. Recording
  one element twice raises ``RecordedTwice`` (a bug in the target, not bad input).
- Stating the facts themselves: :mod:`.facts`. Either named text constants in ``capabilities.py`` (Postfix,
  Sendmail, Exim, Exchange), or, when each element has several cases, one ``FactTable`` (element with ``[]``
  for an index -> case -> ``enforced``/``approximated``/``unsupported`` of a ``str.format`` detail; qmail,
  OpenSMTPD): steps call ``TABLE.note(recorder, element, case, **fields)``, and
  ``TABLE.in_table_order(recorder.items())`` gives COVERAGE.md the table's order. A test can then reach every
  case (swap ``TABLE.rows`` to watch them, as tests/unit/test_qmail_plan.py does).
- A relay self-check before the swap (an MTA that can answer RCPT without a real session: ``sendmail -bt``,
  ``exim -bh``): :mod:`.relay_scenarios`. ``relay_scenarios(policy, authenticated=...)`` is what to ask and
  the evaluator's verdict (``contract_accepts`` asks it again for a changed recipient); the target keeps only
  how it runs them (its input file or script and the check step).
- Refusing text a file cannot hold: :mod:`.escape`. ``unfit(text)`` says why text is unfit (an allow-list:
  printable ASCII and Unicode letters, marks, numbers, punctuation, symbols; ``breaks=True`` admits LF,
  ``tabs=True`` TAB), ``fit(text, what)`` returns it or raises ``Unexpressible``. Every "this target cannot
  express this value" is an ``Unexpressible`` (filters too, never a bare ``ValueError``): catch it while
  lowering to record a gap, or let it reach the CLI from a filter (exit 2, ``policy: target: reason``).
  The target keeps only its format's own quoting (m4 quotes, PowerShell quotes, qmail's leading ``#``).
- Banners and DNSBL replies with ``{hostname}``, ``{client}``, ``{zone}``: :mod:`.placeholders`.
  ``fill(template, spelling, literal)`` for text (``literal`` escapes the text between placeholders),
  ``spelled`` when a placeholder is not text (a PowerShell variable), ``pieces`` to walk them yourself.
- DNSBL return-code filters where the MTA wants every address listed: :mod:`.dnsbl` (``return_codes``
  with the target's limit; ``octets`` per filter). The filter grammar and validation stay the policy's.
- Sender/recipient patterns: :mod:`.address_parts` (``parts``, ``address_key``, ``overlap``/``overlaps``
  for "does an earlier permit exempt this rejection", ``first_match_keys`` for access maps that look up
  the most specific key first).
- Client networks where the MTA follows the longest key, not the policy's order: :mod:`.shadowing`
  (``within``, ``first_within`` for a network key, ``split_hosts`` for a list file's addresses in bulk).
- Cyrus SASL: :mod:`.sasl` (``cyrus_conf(policy.auth)`` is the settings and a template context for a
  ``key: value`` file; ``saslauthd_sockets``, ``DEFAULT_SASLDB`` for preflight checks).

Typed template contexts: ``PlannedFile.context`` may be a frozen dataclass instance; ``render.py`` gives the
template its fields as variables (shallow: nested dataclasses stay objects).

Where things live: ``RenderError`` is defined in :mod:`.escape` and re-exported by ``render.py`` (render
checks text with the kit's predicate, so defining it in render would make the two import each other). The
kit may import the policy (it reuses the policy's placeholder grammar, filter parser and character
allow-list), never the reverse. This package imports none of its modules: a target imports the ones it
uses, and the registry (``base.registered``) skips ``kit``.
"""
