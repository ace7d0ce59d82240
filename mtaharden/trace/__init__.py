"""``mtaharden trace``: follow a received message's ``Received:`` chain to the host that sent it, and
find whom to tell. The message is hostile input: sizes are bounded, nothing in it is evaluated, and
every text taken from it is screened before it reaches a terminal, a JSON answer or a report."""
