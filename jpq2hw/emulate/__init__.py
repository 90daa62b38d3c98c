"""An exact integer emulator of the built network (numpy): what the generated C++ computes, from the same
types and weights the writer used. It widens the C-simulation's check (it never replaces it)."""
