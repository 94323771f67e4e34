"""Shared SNN building blocks used by every method: neuron constants, surrogates, the reference
LIF dynamics, traces, eligibilities and the per-step loop helpers. One job per module."""
