"""thaisign.hsm"""
