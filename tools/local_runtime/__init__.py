"""Creative Engine on one laptop: the synthesized stack deployed into moto, its Lambdas served in-process.

No AWS account and no Docker: moto (in server mode, in this process) plays the AWS services, the real
CloudFormation template is deployed into it, and the handlers the template wires run here, fed by an
API Gateway stand-in, SQS pollers and schedule firers built from the same template. Start with
`local_runtime.runtime.LocalRuntime` or `creative local up`.
"""
