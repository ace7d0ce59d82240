"""Reports a network's abuse desk can act on: an ARF feedback report (RFC 5965) with the original
attached, or a plain complaint, each in English or Chinese. Only screened trace data reaches them."""
