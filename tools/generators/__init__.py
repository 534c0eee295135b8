"""In-house copy generators (seq2seq with attention, a text VAE, a text GAN) trained offline with torch in
the models build environment, and their comparison with the pretrained small LM on the same held-out data."""
