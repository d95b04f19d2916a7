"""thaisign.verify"""
