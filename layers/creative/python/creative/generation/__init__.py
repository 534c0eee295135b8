"""Copy generation: new short ad copy per business line, written as an upload so admission judges it."""
