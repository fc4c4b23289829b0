"""What the parts of settlement's repository share."""

NO_ID = {"_id": 0}  # a projection: the documents as stored, without MongoDB's _id
