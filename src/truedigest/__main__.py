from truedigest.cli.main import main

main()
