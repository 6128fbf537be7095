"""Annotation assist: which frames to correct next (:mod:`.suggest`) and a local page to
correct them in (:mod:`.server`)."""
