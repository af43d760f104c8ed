from polyret.cli import main

main()
