"""Pure-Python reference models of the irqforge hardware.

They define the observable behaviour the RTL is checked against and form the
``model`` backend of the software stack.
"""
