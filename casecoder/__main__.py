from casecoder.cli.main import main

main()
