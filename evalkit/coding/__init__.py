"""Assisted coding: the codebook rule matcher, the learned suggester, evaluation,
active learning, the review workflow and emergent themes."""
