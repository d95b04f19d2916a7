"""thaisign.pades"""
