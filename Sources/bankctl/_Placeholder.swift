print("bankctl placeholder")
