"""Quality: what a material is, judged beyond its bytes (sharpness, exposure, placements, copy form,
compliance, spam likeness, near-duplicates). Each check gives a reason code, a score and a verdict; the
thresholds live in one policy (`policy.QualityPolicy`)."""
