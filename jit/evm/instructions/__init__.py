"""Instruction handlers, one function per opcode, grouped by family.

A handler takes the frame and returns nothing. The loop has already charged
the opcode's static gas (``opcodes.STATIC_GAS``) and advanced ``evm.pc`` past
the opcode; a handler charges only dynamic gas. Handlers pop all operands
before acting, so stack underflow surfaces as IndexError before any effect.
"""
