WHO = "consumer"
