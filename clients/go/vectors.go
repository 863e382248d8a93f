package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	vectoriov1 "stackmesh.dev/gen/stackmesh/vector_io/v1"
)

const (
	documentName = "stackmesh-go-client.txt"
	document     = "The stackmesh Go client wrote this note. " +
		"In the harbour town of Vellmar the lighthouse keeper feeds seven grey cats every evening.\n"
	query = "Who feeds the cats in Vellmar?"
	// The attribute set on the file and required by the search filter.
	sourceKey, sourceValue = "source", "go-client"
	// UploadFile streams the body in pieces of at most this size.
	uploadChunkBytes = 32 * 1024
	ingestTimeout    = 60 * time.Second
	pollInterval     = 250 * time.Millisecond
)

// SearchResult is the outcome of uploading the document and searching for it.
type SearchResult struct {
	FileID        string  `json:"file_id"`
	VectorStoreID string  `json:"vector_store_id"`
	FileStatus    string  `json:"file_status"`
	Hits          int     `json:"hits"`
	TopFileID     string  `json:"top_file_id"`
	TopFilename   string  `json:"top_filename"`
	TopScore      float64 `json:"top_score"`
	TopText       string  `json:"top_text"`
	TopSource     string  `json:"top_source"`
}

// searchUploadedFile uploads the document, indexes it in a new vector store and searches it
// with an attribute filter. The store and the file are deleted afterwards.
func searchUploadedFile(ctx context.Context, conn *grpc.ClientConn, embeddingModel string) (SearchResult, error) {
	files := vectoriov1.NewFilesServiceClient(conn)
	stores := vectoriov1.NewVectorStoresServiceClient(conn)

	file, err := upload(ctx, files, documentName, []byte(document))
	if err != nil {
		return SearchResult{}, fmt.Errorf("upload: %w", err)
	}
	defer cleanup("delete file", func(ctx context.Context) error {
		_, err := files.DeleteFile(ctx, &vectoriov1.DeleteFileRequest{FileId: file.GetId()})
		return err
	})

	store, err := stores.CreateVectorStore(ctx, &vectoriov1.CreateVectorStoreRequest{
		Name:           "stackmesh-go-client",
		EmbeddingModel: embeddingModel,
	})
	if err != nil {
		return SearchResult{}, fmt.Errorf("create vector store: %w", err)
	}
	defer cleanup("delete vector store", func(ctx context.Context) error {
		_, err := stores.DeleteVectorStore(ctx, &vectoriov1.DeleteVectorStoreRequest{VectorStoreId: store.GetId()})
		return err
	})

	attributes, err := structpb.NewStruct(map[string]interface{}{sourceKey: sourceValue})
	if err != nil {
		return SearchResult{}, err
	}
	if _, err := stores.CreateVectorStoreFile(ctx, &vectoriov1.CreateVectorStoreFileRequest{
		VectorStoreId: store.GetId(),
		FileId:        file.GetId(),
		Attributes:    attributes,
	}); err != nil {
		return SearchResult{}, fmt.Errorf("add the file to the vector store: %w", err)
	}
	storeFile, err := waitIngested(ctx, stores, store.GetId(), file.GetId())
	if err != nil {
		return SearchResult{}, err
	}

	response, err := stores.SearchVectorStore(ctx, &vectoriov1.SearchVectorStoreRequest{
		VectorStoreId: store.GetId(),
		Query:         structpb.NewStringValue(query),
		Filters: &vectoriov1.AttributeFilter{
			Type:  "eq",
			Key:   sourceKey,
			Value: structpb.NewStringValue(sourceValue),
		},
	})
	if err != nil {
		return SearchResult{}, fmt.Errorf("search: %w", err)
	}
	result := SearchResult{
		FileID:        file.GetId(),
		VectorStoreID: store.GetId(),
		FileStatus:    storeFile.GetStatus(),
		Hits:          len(response.GetData()),
	}
	if len(response.GetData()) == 0 {
		return SearchResult{}, fmt.Errorf("the search for %q found nothing", query)
	}
	top := response.GetData()[0]
	result.TopFileID = top.GetFileId()
	result.TopFilename = top.GetFilename()
	result.TopScore = top.GetScore()
	result.TopSource = top.GetAttributes().GetFields()[sourceKey].GetStringValue()
	for _, content := range top.GetContent() {
		result.TopText += content.GetText()
	}
	return result, nil
}

// upload streams a file: the first message carries its metadata, the rest its bytes.
func upload(ctx context.Context, client vectoriov1.FilesServiceClient, name string, body []byte) (*vectoriov1.File, error) {
	stream, err := client.UploadFile(ctx)
	if err != nil {
		return nil, err
	}
	metadata := &vectoriov1.UploadFileRequest{Payload: &vectoriov1.UploadFileRequest_Metadata{
		Metadata: &vectoriov1.UploadFileMetadata{Filename: name, Purpose: "assistants", ContentType: "text/plain"},
	}}
	if err := stream.Send(metadata); err != nil {
		return nil, sendError(stream, err)
	}
	for start := 0; start < len(body); start += uploadChunkBytes {
		end := start + uploadChunkBytes
		if end > len(body) {
			end = len(body)
		}
		piece := &vectoriov1.UploadFileRequest{Payload: &vectoriov1.UploadFileRequest_Chunk{Chunk: body[start:end]}}
		if err := stream.Send(piece); err != nil {
			return nil, sendError(stream, err)
		}
	}
	return stream.CloseAndRecv()
}

// sendError returns the reason a client-stream Send failed: Send reports only io.EOF when
// the server has already ended the call, and the server's status comes from CloseAndRecv.
func sendError(stream vectoriov1.FilesService_UploadFileClient, err error) error {
	if _, recvErr := stream.CloseAndRecv(); recvErr != nil {
		return recvErr
	}
	return err
}

// waitIngested polls the store's file until it leaves "in_progress"; anything but
// "completed" is an error that carries the file's last_error.
func waitIngested(ctx context.Context, client vectoriov1.VectorStoresServiceClient, storeID, fileID string) (*vectoriov1.VectorStoreFile, error) {
	ctx, cancel := context.WithTimeout(ctx, ingestTimeout)
	defer cancel()
	for {
		file, err := client.GetVectorStoreFile(ctx, &vectoriov1.GetVectorStoreFileRequest{VectorStoreId: storeID, FileId: fileID})
		if err != nil {
			return nil, fmt.Errorf("get vector store file: %w", err)
		}
		switch file.GetStatus() {
		case "completed":
			return file, nil
		case "in_progress":
		default:
			return nil, fmt.Errorf("ingestion ended %q: %s: %s",
				file.GetStatus(), file.GetLastError().GetCode(), file.GetLastError().GetMessage())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("file %s still in_progress after %s", fileID, ingestTimeout)
		case <-time.After(pollInterval):
		}
	}
}

// cleanup runs a best-effort deletion with its own deadline, so that it also runs when the
// scenario's context has expired; a failure is reported on stderr but does not fail the run.
func cleanup(what string, do func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := do(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "stackmesh-go-client: %s: %v\n", what, err)
	}
}
