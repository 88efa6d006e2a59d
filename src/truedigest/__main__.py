from truedigest.cli import main

main()
