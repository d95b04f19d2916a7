"""thaisign.tsa"""
