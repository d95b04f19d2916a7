"""thaisign.ca"""
