"""The engines that judge policy values, shared by the policy and the targets.

Why a neutral package: the policy validates a value with the engine that will read it (Postfix's
PCRE2, Sendmail's libc regcomp, the header forms both compile), and the targets write those values;
living here, neither the policy imports a target nor a target's module owns the policy's checks.
"""
