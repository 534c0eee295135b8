"""Creative Engine's infrastructure: the function catalog and the CDK app built from it."""
