from thaisign.cli import main

main()
