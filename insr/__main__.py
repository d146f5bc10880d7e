from insr.cli import main

main()
