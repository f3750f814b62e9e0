"""Formula handling: R formula syntax, random-effect bars, the model frame."""
