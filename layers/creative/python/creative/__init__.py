"""Creative Engine's shared domain package (shipped to every function as a Lambda layer).

Domain modules import no boto3: AWS access lives only in `creative.adapters`.
"""

from creative import cold_start

cold_start.hold_in_lambda()
